"""Tasks: model builders, losses and metrics per pre-training / fine-tuning task."""
