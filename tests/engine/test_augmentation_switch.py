"""The augmentation switch reaches the loader workers, persistent ones included, at its epoch."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from posekit.engine.augmentation_switch import AugmentationSwitch


class SettingDataset(Dataset):
    """Each sample reports the dataset's ``augmentation`` as seen in the worker."""

    def __init__(self) -> None:
        self.augmentation = 1.0
        self.photometric = None

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.tensor([self.augmentation])


class SettingData(L.LightningDataModule):
    def __init__(self, num_workers: int) -> None:
        super().__init__()
        self.augmentation, self.photometric = 1.0, None
        self.num_workers = num_workers
        self.train_set: SettingDataset | None = None

    def setup(self, stage: str) -> None:
        self.train_set = SettingDataset()

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=2, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)


class Recorder(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[tuple[int, float]] = []

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self.seen.append((self.current_epoch, float(batch[0, 0])))
        return (self.weight * batch).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(callback: AugmentationSwitch, num_workers: int, epochs: int = 3) -> Recorder:
    module = Recorder()
    trainer = L.Trainer(accelerator="cpu", max_epochs=epochs, callbacks=[callback], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(module, datamodule=SettingData(num_workers))
    return module


@pytest.mark.parametrize("num_workers", [0, 1])
def test_the_switch_reaches_the_workers_at_its_epoch(num_workers):
    module = fit(AugmentationSwitch(epoch=2, settings={"augmentation": 7.0}), num_workers)
    by_epoch = {epoch: {value for e, value in module.seen if e == epoch} for epoch in range(3)}
    assert by_epoch == {0: {1.0}, 1: {1.0}, 2: {7.0}}


def test_a_switch_at_epoch_zero_applies_from_the_start():
    module = fit(AugmentationSwitch(epoch=0, settings={"augmentation": 7.0}), 0, epochs=1)
    assert {value for _, value in module.seen} == {7.0}


def test_unknown_settings_are_named():
    with pytest.raises(ValueError, match=r"settings may set \['augmentation', 'photometric'\]"):
        AugmentationSwitch(epoch=1, settings={"rotation": 3})
