"""The Graph client and everything said to Graph: app lookup, request bodies, categories,
assignments, the tags in notes, the lock, state waits and the Win32 fields."""
