"""Reading and writing images, videos and files (atomically)."""
