"""Built-in providers. Each registers under the `infrawg.providers` entry-point group in
pyproject.toml, exactly as a third-party provider would."""
