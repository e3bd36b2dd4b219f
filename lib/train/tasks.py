"""Tasks: what search, retrain, sampling and evaluation need to know about a model's job -
its data splits, training loss, θ loss and validation metric. A space names its task in its
``task`` class attribute; ``make_task`` builds the matching object."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import dataset_layout, default_data_root, landmark_splits, landmark_test
from ..data.segmentation import IGNORE, SCHEMES, segmentation_splits, segmentation_test
from ..spaces import deployed_output, full_kwargs, get_space, split_outputs
from .evaluation_summary import summarize_landmarks
from .losses import angle_loss, landmark_mse, pfld_loss
from .metrics import confusion_matrix, iou_from_confusion, nme


def _local(sums):
    """Sums over this process's shard are the totals (one process)."""
    return sums


class Task:
    metric: str  # the validation number that picks checkpoints
    higher_is_better: bool

    def __init__(self, kwargs: dict, dataset: str, data_root):
        self.kwargs = kwargs  # the space's full constructor kwargs (or what an ONNX file shows)
        self.img_size = self.kwargs["img_size"]
        self.dataset, self.data_root = dataset, data_root

    def splits(self, limit_train=None, limit_val=None, seed=0, augment=False) -> dict:
        """``{"train", "val", "test"}``: datasets, and the test split as a loader (a callable
        that decodes it) or None."""
        raise NotImplementedError

    def test_split(self):
        """The test split alone, decoded (None when the data has none): without decoding the
        training set, which ``splits`` does."""
        raise NotImplementedError

    def better(self, value: float, best: float | None) -> bool:
        return best is None or (value > best if self.higher_is_better else value < best)

    def theta_loss(self, model, batch) -> torch.Tensor:
        return self.loss(model, batch)

    def trivial_score(self, train_batches, val_loader, reduce=None) -> float:
        """The validation metric of the input-blind predictor fitted on ``train_batches``
        (the mean shape, the majority class): the level a model must clearly beat before its
        scores say anything."""
        predict = self.trivial_predictor(train_batches, reduce or _local)
        return self.score(predict, val_loader, reduce=reduce)[self.metric]

    def error(self, score: float) -> float:
        """The metric as an error, lower better: the metric, or 1 - the metric when higher is
        better (those are fractions: mIoU)."""
        return 1.0 - score if self.higher_is_better else score

    def clearly_better(self, score: float, trivial: float, margin: float) -> bool:
        """``score``'s error is at most (1 - margin) x the trivial predictor's."""
        return self.error(score) <= (1.0 - margin) * self.error(trivial)

    @torch.no_grad()
    def evaluate(self, model, loader, device, reduce=None, detailed: bool = False) -> dict:
        """Metrics of a model (eval mode, restored after) over a loader. ``reduce`` sums a
        tensor over the ranks when each holds a shard of the split."""
        was_training = model.training
        model.eval()
        report = self.score(lambda images: model(images.to(device, non_blocking=True)), loader,
                            detailed=detailed, reduce=reduce)
        model.train(was_training)
        return report


class LandmarkTask(Task):
    metric, higher_is_better = "nme_box", False

    def __init__(self, kwargs, dataset, data_root):
        super().__init__(kwargs, dataset, data_root)
        self.num_points = self.kwargs["num_points"]
        self.layout = dataset_layout(dataset, data_root, self.num_points)

    def splits(self, limit_train=None, limit_val=None, seed=0, augment=False) -> dict:
        return landmark_splits(self.dataset, self.data_root, self.num_points, self.img_size,
                               limit_train, limit_val, seed, augment)

    def test_split(self):
        return landmark_test(self.dataset, self.data_root, self.num_points, self.img_size)

    def loss(self, model, batch) -> torch.Tensor:
        images, landmarks, pose = batch
        pred, aux = split_outputs(model(images))
        if aux:  # PFLD: the auxiliary net's pose weights the landmark loss
            return pfld_loss(pred, landmarks, aux[0], pose) + angle_loss(aux[0], pose)
        return landmark_mse(pred, landmarks)

    def theta_loss(self, model, batch) -> torch.Tensor:
        images, landmarks, _ = batch
        # plain L2 of the deployed output, as the reference's architecture steps (REFERENCE.md):
        # the aux net's pose weighting is a training aid, not part of what ships
        return ((deployed_output(model(images)) - landmarks) ** 2).sum(dim=1).mean()

    def trivial_predictor(self, batches, reduce):
        total, count = torch.zeros(2 * self.num_points, dtype=torch.float64), 0
        for _, landmarks, _ in batches:
            total += landmarks.double().sum(0)
            count += len(landmarks)
        # sums and count over the ranks: the mean shape of the whole training set, not of one shard
        sums = reduce(torch.cat([total, torch.tensor([float(count)], dtype=torch.float64)]))
        mean = (sums[:-1] / sums[-1]).float()
        return lambda images: mean.expand(len(images), -1)

    def score(self, predict, loader, detailed: bool = False, reduce=None) -> dict:
        reduce = reduce or _local
        preds, poses, targets, true_poses = [], [], [], []
        for images, landmarks, pose in loader:
            pred, aux = split_outputs(predict(images))
            preds.append(pred.cpu())
            if aux:
                poses.append(aux[0].cpu())
            targets.append(landmarks)
            true_poses.append(pose)
        pred, target = torch.cat(preds), torch.cat(targets)
        if detailed:
            return summarize_landmarks(pred, target, torch.cat(poses) if poses else None,
                                       torch.cat(true_poses), self.layout)
        errors = nme(pred, target, self.layout.eye_corners)
        # per-sample sums and the count over the ranks: the mean over the whole
        # split, not a mean of rank means (shards may differ by a sample)
        sums = reduce(torch.stack([v.double().sum() for v in errors.values()]
                                  + [torch.tensor(len(pred), dtype=torch.float64)]))
        return {f"nme_{k}": float(total / sums[-1]) for k, total in zip(errors, sums)}


class SegmentationTask(Task):
    metric, higher_is_better = "miou", True

    def __init__(self, kwargs, dataset, data_root):
        super().__init__(kwargs, dataset, data_root)
        self.num_classes = self.kwargs["num_classes"]
        self.ignore_index = self.kwargs.get("ignore_index", IGNORE)

    @property
    def root(self) -> Path:
        return Path(self.data_root) if self.data_root else default_data_root(self.dataset)

    def splits(self, limit_train=None, limit_val=None, seed=0, augment=False) -> dict:
        return segmentation_splits(self.dataset, self.root, self.img_size, self.num_classes,
                                   limit_train, limit_val, seed, augment)

    def test_split(self):
        return segmentation_test(self.dataset, self.root, self.img_size, self.num_classes)

    def loss(self, model, batch) -> torch.Tensor:
        images, masks = batch
        return F.cross_entropy(deployed_output(model(images)), masks,
                               ignore_index=self.ignore_index)

    def trivial_predictor(self, batches, reduce):
        counts = torch.zeros(self.num_classes, dtype=torch.long)
        for _, masks in batches:
            valid = masks[masks != self.ignore_index]
            counts += torch.bincount(valid.flatten(), minlength=self.num_classes)
        majority = int(reduce(counts).argmax())
        return lambda images: F.one_hot(
            torch.full(images.shape[:1] + images.shape[2:], majority),
            self.num_classes).permute(0, 3, 1, 2).float()

    def score(self, predict, loader, detailed: bool = False, reduce=None) -> dict:
        reduce = reduce or _local
        confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)
        for images, masks in loader:
            labels = deployed_output(predict(images)).argmax(dim=1).cpu()
            confusion += confusion_matrix(labels, masks, self.num_classes, self.ignore_index)
        confusion = reduce(confusion)
        miou, per_class = iou_from_confusion(confusion)
        # clamp: a split whose pixels are all ignored has nothing to divide by
        report = {"miou": miou,
                  "pixel_acc": float(confusion.diag().sum() / confusion.sum().clamp_min(1))}
        if detailed:
            names = SCHEMES[self.dataset].classes if self.dataset in SCHEMES else \
                [str(i) for i in range(self.num_classes)]
            report.update({"samples": len(loader.dataset),
                           "iou_per_class": dict(zip(names, per_class))})
        return report


TASKS = {"landmark": LandmarkTask, "segmentation": SegmentationTask}


def make_task(space: str, space_kwargs: dict, dataset: str, data_root) -> Task:
    return TASKS[get_space(space).builder.task](full_kwargs(space, space_kwargs), dataset,
                                                data_root)


@torch.no_grad()
def recalibrate_bn(model, loader, device, batches: int = 8) -> None:
    """Re-estimate BatchNorm running statistics (cumulative average) on a few batches: the
    supernet's statistics mix all paths, a sampled subnet needs its own."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    # train mode makes BN update its statistics; under no_grad no graph is kept
    model.train()
    for i, (images, *_) in enumerate(loader):
        if i >= batches:
            break
        model(images.to(device, non_blocking=True))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.train(was_training)
