"""Provider runtimes: one Protocol, implementations per upstream API, built by create_runtime."""
