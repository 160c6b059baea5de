"""One module per subcommand; each has `register(subparsers)`; `router.cli` lists them."""
