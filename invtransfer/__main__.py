"""``python -m invtransfer`` runs the ``invtransfer`` command."""

from invtransfer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
