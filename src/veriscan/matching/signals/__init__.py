"""Signal types: each kind of hash (md5, sha1, sha256, pdq, vpdq...) as one registered object."""
