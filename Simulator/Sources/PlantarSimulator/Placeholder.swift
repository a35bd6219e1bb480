// The simulated device: see README in this folder.
