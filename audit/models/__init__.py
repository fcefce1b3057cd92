"""Model adapters: scikit-learn, torch, callables, decisions from the data, text classifiers; loading model files."""
