"""Safe decoding of untrusted images and video: bounded, validated, never a crash or a hang."""

from leakshield.media._errors import MediaError, MediaErrorCode, image_decoding
from leakshield.media._image import LumaImage, decode_luma, is_image, rgb_to_luma
from leakshield.media._limits import MediaLimits
from leakshield.media._probe import MediaType, detect_media_type
from leakshield.media._video import (
    VideoFrameLuma,
    VideoInfo,
    frame_luma,
    has_video_stream,
    iter_video_luma,
    video_info,
)

__all__ = [
    "LumaImage",
    "MediaError",
    "MediaErrorCode",
    "MediaLimits",
    "MediaType",
    "VideoFrameLuma",
    "VideoInfo",
    "decode_luma",
    "detect_media_type",
    "frame_luma",
    "has_video_stream",
    "image_decoding",
    "is_image",
    "iter_video_luma",
    "rgb_to_luma",
    "video_info",
]
