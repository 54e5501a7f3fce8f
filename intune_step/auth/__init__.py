"""MSAL sign-in (secret, certificate, federated token) and the checks on the token it returns.
No Graph calls."""
