"""Page kinds, one module each; site lists them in nav order and renders them; base is what they share, templates the Jinja environment."""
