"""The command line: a thin layer over the packages. Only this package imports typer and rich."""
