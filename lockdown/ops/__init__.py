"""Operations: metrics, logs and their redaction, the demo register."""
