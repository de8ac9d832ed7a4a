"""benchsite generator: results/ -> validated, aggregated, rendered static site. Never imports torch or TensorFlow."""
