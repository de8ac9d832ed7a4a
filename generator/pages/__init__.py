"""Page kinds, one module each; generator.pages.site lists them in nav order and renders them (base: what they share)."""
