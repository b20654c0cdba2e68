"""``python -m amplio`` runs the CLI."""

from amplio.cli.main import main

main()
