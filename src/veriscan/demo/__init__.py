"""The benign demo: evidence drawn in code (landscapes, shapes, charts), AI-metadata samples
written onto drawn images, and a shared hash list. Nothing here shows a person."""
