"""The one httpx client factory, the retry policy and the one retry loop every caller shares."""
