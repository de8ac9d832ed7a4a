"""The ``benchsite`` command and the operations around the site pipeline: run, nightly, git, publish, serve.

The pipeline in ``generator/`` (load -> validate -> aggregate -> chart -> render) never imports from here.
"""
