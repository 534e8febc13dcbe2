"""What users ask of finished work: summaries, export, compare, retrain and predict."""
