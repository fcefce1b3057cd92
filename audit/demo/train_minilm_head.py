"""Train the MiniLM tweet-sentiment head on the bundled tweets (the demo's text model).

    python -m audit.demo.train_minilm_head [--out DIR] [--cache embeddings.npy]

The head ships in explainers/models; this command reproduces it from the data (seeded 80/20 split).
"""

from __future__ import annotations

import argparse
import json


def main(argv: list[str] | None = None) -> dict:
    from audit.demo._demo import load_tweets
    from explainers.minilm_head import train_head

    parser = argparse.ArgumentParser(description="Train the MiniLM tweet-sentiment head.")
    parser.add_argument("--out", default=None, help="folder for the head and its card (default: explainers/models)")
    parser.add_argument("--cache", default=None, help="an .npy file to keep the tweet embeddings in")
    arguments = parser.parse_args(argv)
    tweets = load_tweets()
    return train_head(
        tweets["text"].astype(str).tolist(), tweets["sentiment"].tolist(), arguments.out, cache=arguments.cache
    )


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
