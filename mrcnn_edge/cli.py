"""`mrcnn-edge` command line. Each subcommand only parses arguments and calls one library function."""
from __future__ import annotations

import argparse
import sys

from ._version import __version__
from .errors import UserError


def _models(args) -> None:
    from .model.zoo import describe_zoo

    print(describe_zoo())


def _train(args) -> None:
    from .model.train import TrainConfig, train

    print(train(TrainConfig(arch=args.arch, iterations=args.iterations, seed=args.seed), args.out))


def _eval(args) -> None:
    from .eval.run import evaluate_cli

    print(evaluate_cli(args.model, num_images=args.num_images, out_json=args.json))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mrcnn-edge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mrcnn-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list architectures and the shipped checkpoint")
    p.set_defaults(func=_models)

    p = sub.add_parser("train", help="train an architecture on the synthetic shapes set (CPU)")
    p.add_argument("--arch", default="maskrcnn_mobilenet_v3_large_fpn_lite")
    p.add_argument("--iterations", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/train")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="COCO box and mask AP on the synthetic val set")
    p.add_argument("--model", default=None, help="checkpoint (.pth); default: the shipped model")
    p.add_argument("--num-images", type=int, default=200)
    p.add_argument("--json", default=None, help="write the result as JSON here")
    p.set_defaults(func=_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as e:
        print(f"mrcnn-edge {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mrcnn-edge {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
