"""pydantic models: the typed contract every front end speaks. TypeScript types are generated from here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OutputFormat = Literal["png", "webp", "jpg", "tiff"]
Precision = Literal["fast", "exact"]
FileStatus = Literal["done", "failed", "cancelled"]


class UpscaleOptions(BaseModel):
    """What the user asked for; shared by every file of one job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(default="", description="Bundled model id or a path; empty = the default model")
    scale: float | None = Field(default=None, gt=0, le=16, description="Target scale; None = model's own")
    tile: int | None = Field(default=None, ge=16, le=4096, description="Tile size; None = automatic")
    batch: int | None = Field(default=None, ge=1, le=8, description="Tiles per inference; None = automatic")
    format: OutputFormat | None = Field(default=None, description="None = keep the input format")
    quality: int | None = Field(default=None, ge=1, le=100, description="JPEG/WebP quality")
    webp_lossless: bool = False
    png_compression: int = Field(default=6, ge=0, le=9, description="zlib level for PNG/TIFF")
    jpeg_subsampling: Literal["4:4:4", "4:2:0"] = "4:4:4"
    jpeg_progressive: bool = False
    background: str = Field(default="#ffffff", pattern=r"^#[0-9a-fA-F]{6}$",
                            description="Colour transparent areas are flattened onto (JPEG)")
    precision: Precision = "fast"
    output_dir: str | None = Field(default=None, description="None = beside each input")
    name_template: str = "{name}_pixup_{scale}x.{ext}"
    overwrite: bool = False
    recursive: bool = False
    allow_large: bool = Field(default=False, description="Lift the decompression-bomb guard")


class FileResult(BaseModel):
    """The outcome of one input file; the CLI prints it as one JSON line with --json."""

    input: str
    output: str | None = None
    status: FileStatus
    error: str | None = None
    width: int | None = None
    height: int | None = None
    out_width: int | None = None
    out_height: int | None = None
    seconds: float | None = None
    model: str | None = None
    provider: str | None = None
    notices: list[str] = Field(default_factory=list)


class JobProgress(BaseModel):
    """Progress of one job, per file: tiles done over tiles total."""

    job_id: str
    file: str
    file_index: int
    files_total: int
    tiles_done: int
    tiles_total: int
