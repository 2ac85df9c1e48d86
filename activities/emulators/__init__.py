"""Local cloud function emulators with fault injection (see docs/providers.md §7)."""
