"""An mkdocs hook (named in the generated mkdocs.yml, see ``build.write_config``): keep the theme's compiled
templates between builds.

mkdocs makes a fresh Jinja environment for Material's templates on every build and compiles each template it
renders (main.html, base.html, its partials, 404.html, sitemap.xml): 0.4 s of a rebuild that renders a few
pages, ~30% of it. Jinja's own bytecode cache keeps them under the build folder, checked against each
template's source; the folder is named by mkdocs' and Jinja's versions, which set how a template compiles.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2

FOLDER = "cache/theme-templates"  # under the build work dir, beside the generated mkdocs.yml


def on_env(env: jinja2.Environment, config: Any, files: Any, **_: Any) -> jinja2.Environment:
    """mkdocs hook: give the theme's Jinja environment a bytecode cache under the build folder."""
    folder = Path(config.config_file_path).parent / FOLDER / f"mkdocs-{version('mkdocs')}-jinja2-{jinja2.__version__}"
    folder.mkdir(parents=True, exist_ok=True)
    env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))
    return env
