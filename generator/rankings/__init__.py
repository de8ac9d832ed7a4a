"""Rankings, one module each (BenchCouncil-style); generator.pages.rankings lists them in page order."""
