"""``python -m lsvd`` lists the toolkit's commands."""

print(
    "LSVD toolkit commands:\n"
    "  python -m lsvd.prepare   index LSVD folders, videos or the synthetic mini-LSVD into a dataset root\n"
    "  python -m lsvd.masks     SelfSVD masks for a dataset root (official or ps mode, DIS or PWC-Net flow)\n"
    "  python -m lsvd.desmoke   desmoke a video, a frame folder or a prepared clip with SelfSVD\n"
    "  python -m lsvd.hf        dataset card, HF loading and a push-ready folder of a dataset root\n"
    "Run any of them with --help."
)
