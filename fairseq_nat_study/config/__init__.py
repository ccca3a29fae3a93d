"""``fairseq-hydra-train`` configs of the plugin, one per model family (``ar_tiny``, ``nat_tiny``, ``glat_tiny``,
``ga_tiny``, ``fl_tiny``; ``docs/hydra.md``)::

    fairseq-hydra-train --config-dir "$(fairseq-nat-study user-dir)/config" --config-name nat_tiny \\
        task.data=DATA_BIN checkpoint.save_dir=RUN_DIR

Each config puts this package on hydra's search path (``hydra.searchpath: [pkg://fairseq_nat_study.config]``).
Hydra imports the package to read it while it composes the config, before fairseq imports ``common.user_dir``:
that import registers the plugin's task, criterions and models with fairseq (``fairseq_cli.hydra_train`` has
imported fairseq by then), so that the defaults lists find ``criterion/nat_study_*`` and
``task/nat_study_translation`` and their dataclass fields can be overridden from the command line. It also
defines the ``${nat_study_user_dir:}`` resolver, the plugin's directory, which the configs give to
``common.user_dir`` (every data-parallel worker imports the plugin from it).
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from fairseq_nat_study.registration import register

#: the folder of the configs (``--config-dir``)
CONFIG_DIR = Path(__file__).resolve().parent

OmegaConf.register_new_resolver("nat_study_user_dir", lambda: str(CONFIG_DIR.parent), replace=True)
register()
