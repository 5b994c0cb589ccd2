"""AI model files (checkpoints, LoRAs, embeddings) identified from their content, never loaded."""
