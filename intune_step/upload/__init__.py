"""The Azure Blob block upload of the encrypted artifact. It knows nothing of Graph."""
