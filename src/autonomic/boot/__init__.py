"""Starting the orchestrator at logon: the `[boot]` settings (registration itself is in
`autonomic.platform.registration`)."""
