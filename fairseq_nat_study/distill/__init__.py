"""Knowledge distillation: decode a training set with an AR teacher and re-binarise it."""
