"""Bias probes of generative (causal) language models: paired likelihoods, multiple choice, identity-swap prompts."""
