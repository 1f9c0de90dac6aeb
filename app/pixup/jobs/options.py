"""What a job is asked to do: the options shared by every file of one job.

Defined in jobs/ (the layer that runs them) rather than in the bridge's schema, which re-exports the
model as part of its wire contract; pydantic validates the ranges once, whoever builds the options
(the CLI's parser, a bridge request, a test).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pixup.choices import JpegSubsampling, OutputFormat, Precision, Scenario


class UpscaleOptions(BaseModel):
    """What the user asked for; shared by every file of one job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(default="", description="Bundled model id or a path; empty = the scenario's model")
    scenario: Scenario | None = Field(default=None, description="Picks the model when `model` is empty")
    scale: float | None = Field(default=None, gt=0, le=16, description="Target scale; None = model's own")
    tile: int | None = Field(default=None, ge=16, le=4096, description="Tile size; None = automatic")
    batch: int | None = Field(default=None, ge=1, le=8, description="Tiles per inference; None = automatic")
    format: OutputFormat | None = Field(default=None, description="None = keep the input format")
    quality: int | None = Field(default=None, ge=1, le=100, description="JPEG/WebP quality")
    webp_lossless: bool = False
    png_compression: int = Field(
        default=1, ge=0, le=9, description="zlib level for PNG/TIFF; 1 is 4x faster than 6 for 9% more bytes"
    )
    jpeg_subsampling: JpegSubsampling = "4:4:4"
    jpeg_progressive: bool = False
    background: str = Field(default="#ffffff", pattern=r"^#[0-9a-fA-F]{6}$",
                            description="Colour transparent areas are flattened onto (JPEG)")
    precision: Precision = "fast"
    output_dir: str | None = Field(default=None, description="None = beside each input")
    name_template: str = "{name}_pixup_{scale}x.{ext}"
    overwrite: bool = False
    recursive: bool = False
    allow_large: bool = Field(default=False, description="Lift the decompression-bomb guard")
    repair: int = Field(default=0, ge=0, le=100, description="Fix compression strength; 0 = off")
    faces: bool = Field(default=False, description="Face recovery")
    face_model: str = Field(default="", description="Face model name or path; empty = the first imported")
