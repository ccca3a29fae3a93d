"""Plain nn.Modules of the plugin (no fairseq registration)."""
