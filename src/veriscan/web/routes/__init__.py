"""Route modules, each registering on the app through one function."""
