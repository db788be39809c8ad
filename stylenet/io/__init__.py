"""Files in and out: images, weights files, atomic writes, downloads, training photos, progress bars."""
