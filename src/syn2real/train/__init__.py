"""Pre-training and fine-tuning engine (torch + torchvision)."""
