"""The classical methods users would pick instead of DIP, run on the same input for comparison."""
