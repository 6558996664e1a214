//! The trained SESR models that ship with the project, compiled into the library as bytes, so
//! that upscaling works without a model file on disk.
//!
//! Every preset and scale holds three forms of one trained network ([`ShippedForm`]): the
//! collapsed float32 checkpoint, the collapsed quantization-aware (QAT) checkpoint (weights
//! plus the learned 8-bit ranges) and the int8 `.tflite` exported from it at 1080x1920. They
//! are made by `cargo xtask train-zoo` from the project's CC0 photos; `models/card.json`
//! records how each was trained and how well it scores, and `docs/models.md` is the model card
//! written from it. Names and file names are `sesr-model`'s ([`ShippedName`]). This crate only
//! holds the bytes: `sesr-runtime` runs them (`Upscaler::load_ref`), and `sesr-core` loads
//! them on libtorch.

pub use sesr_model::{Preset, ShippedForm, ShippedName};

/// A checkpoint in memory: the safetensors bytes and the text of its JSON sidecar.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    pub safetensors: &'static [u8],
    pub sidecar: &'static str,
}

/// One trained preset at one scale.
#[derive(Debug, Clone, Copy)]
pub struct Pretrained {
    /// The paper's preset.
    pub preset: Preset,
    pub scale: usize,
    /// The collapsed float32 model.
    pub float32: Checkpoint,
    /// The collapsed model after quantization-aware training, with its activation ranges.
    pub qat: Checkpoint,
    /// The int8 TFLite export of `qat` (input 1080x1920, int8 in and out).
    pub int8_tflite: &'static [u8],
}

impl Pretrained {
    /// The model's name: `m5-x2`.
    pub fn name(&self) -> String {
        ShippedName::new(self.preset, self.scale, ShippedForm::Float32).to_string()
    }

    /// The checkpoint of a checkpoint form (float32 or QAT); `None` for int8.
    pub fn checkpoint(&self, form: ShippedForm) -> Option<Checkpoint> {
        match form {
            ShippedForm::Float32 => Some(self.float32),
            ShippedForm::Qat => Some(self.qat),
            ShippedForm::Int8 => None,
        }
    }
}

/// The preset a program uses when the user names none.
pub const DEFAULT_PRESET: Preset = Preset::M5;

/// How the shipped models were trained and what they score (`models/card.json`).
pub const CARD_JSON: &str = include_str!("../models/card.json");

static MODELS: &[Pretrained] = include!(concat!(env!("OUT_DIR"), "/models.rs"));

/// Every shipped model, presets smallest first, x2 before x4.
pub fn all() -> &'static [Pretrained] {
    MODELS
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZooError {
    #[error("SESR-{preset} x{scale} is not among the shipped models ({shipped}); train it with `sesr-cli train` or `cargo xtask train-zoo`")]
    NotShipped {
        preset: String,
        scale: usize,
        shipped: String,
    },
}

/// The shipped model of `preset` at `scale`.
pub fn find(preset: Preset, scale: usize) -> Result<&'static Pretrained, ZooError> {
    MODELS
        .iter()
        .find(|m| m.preset == preset && m.scale == scale)
        .ok_or_else(|| ZooError::NotShipped {
            preset: preset.name().to_string(),
            scale,
            shipped: match MODELS.len() {
                0 => "none yet".into(),
                _ => MODELS
                    .iter()
                    .map(Pretrained::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scales_are_named() {
        let err = find(Preset::M5, 3).unwrap_err().to_string();
        assert!(
            err.starts_with("SESR-m5 x3 is not among the shipped models ("),
            "{err}"
        );
    }

    #[test]
    fn every_preset_ships_at_both_scales() {
        for preset in Preset::ALL {
            for scale in sesr_model::reference::SHIPPED_SCALES {
                assert!(
                    find(preset, scale).is_ok(),
                    "{} x{scale} is not shipped",
                    preset.name()
                );
            }
        }
        assert_eq!(all().len(), 2 * Preset::ALL.len());
    }

    #[test]
    fn every_shipped_model_is_found_by_its_preset_and_scale() {
        for model in all() {
            let found = find(model.preset, model.scale).unwrap();
            assert_eq!(found.name(), model.name());
            assert!(found.float32.sidecar.contains("\"collapsed\""));
            assert!(found.qat.sidecar.contains("\"activations\": true"));
            // A TFLite flatbuffer names its format at bytes 4..8.
            assert_eq!(&found.int8_tflite[4..8], b"TFL3");
        }
    }
}
