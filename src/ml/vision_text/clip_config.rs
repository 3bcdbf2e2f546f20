//! A Hugging Face CLIP `config.json` read into candle-transformers' CLIP configuration, which has
//! no reader of its own. Only what candle's network runs is accepted: `quick_gelu` and layer
//! norms at 1e-5 (every OpenAI CLIP checkpoint); anything else is refused by name.

use candle_transformers::models::clip::text_model::{Activation, ClipTextConfig};
use candle_transformers::models::clip::vision_model::ClipVisionConfig;
use candle_transformers::models::clip::ClipConfig;
use serde_json::Value;

/// The CLIP configuration `config.json` (already parsed) describes.
pub fn read(v: &Value) -> Result<ClipConfig, String> {
    let text = v.get("text_config").ok_or("no text_config")?;
    let vision = v.get("vision_config").ok_or("no vision_config")?;
    let num = |section: &Value, name: &str, key: &str, default: Option<u64>| -> Result<usize, String> {
        match section.get(key).and_then(Value::as_u64).or(default) {
            Some(n) => Ok(n as usize),
            None => Err(format!("{name}.{key} is missing")),
        }
    };
    for (section, name) in [(text, "text_config"), (vision, "vision_config")] {
        let act = section.get("hidden_act").and_then(Value::as_str).unwrap_or("quick_gelu");
        if act != "quick_gelu" {
            return Err(format!("{name}.hidden_act is {act:?}; only CLIP's quick_gelu is supported"));
        }
        let eps = section.get("layer_norm_eps").and_then(Value::as_f64).unwrap_or(1e-5);
        if (eps - 1e-5).abs() > 1e-12 {
            return Err(format!("{name}.layer_norm_eps is {eps}; only CLIP's 1e-5 is supported"));
        }
    }
    // The projections' width: the top level's, as transformers' CLIPModel takes it.
    let projection_dim = num(v, "config", "projection_dim", Some(512))?;
    let text_config = ClipTextConfig {
        vocab_size: num(text, "text_config", "vocab_size", Some(49408))?,
        embed_dim: num(text, "text_config", "hidden_size", Some(512))?,
        activation: Activation::QuickGelu,
        intermediate_size: num(text, "text_config", "intermediate_size", Some(2048))?,
        max_position_embeddings: num(text, "text_config", "max_position_embeddings", Some(77))?,
        pad_with: None,
        num_hidden_layers: num(text, "text_config", "num_hidden_layers", Some(12))?,
        num_attention_heads: num(text, "text_config", "num_attention_heads", Some(8))?,
        projection_dim,
    };
    let image_size = num(vision, "vision_config", "image_size", Some(224))?;
    let vision_config = ClipVisionConfig {
        embed_dim: num(vision, "vision_config", "hidden_size", Some(768))?,
        activation: Activation::QuickGelu,
        intermediate_size: num(vision, "vision_config", "intermediate_size", Some(3072))?,
        num_hidden_layers: num(vision, "vision_config", "num_hidden_layers", Some(12))?,
        num_attention_heads: num(vision, "vision_config", "num_attention_heads", Some(12))?,
        projection_dim,
        num_channels: num(vision, "vision_config", "num_channels", Some(3))?,
        image_size,
        patch_size: num(vision, "vision_config", "patch_size", Some(32))?,
    };
    let logit_scale_init_value = v.get("logit_scale_init_value").and_then(Value::as_f64).unwrap_or(2.6592) as f32;
    Ok(ClipConfig { text_config, vision_config, logit_scale_init_value, image_size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_config_is_read_and_other_activations_are_refused() {
        let v: Value = serde_json::from_str(
            r#"{"model_type": "clip", "projection_dim": 512,
                "text_config": {"hidden_size": 512, "num_attention_heads": 8, "hidden_act": "quick_gelu"},
                "vision_config": {"hidden_size": 768, "patch_size": 32, "image_size": 224}}"#,
        )
        .unwrap();
        let c = read(&v).unwrap();
        assert_eq!((c.text_config.embed_dim, c.text_config.projection_dim, c.vision_config.patch_size), (512, 512, 32));
        let mut gelu = v.clone();
        gelu["vision_config"]["hidden_act"] = "gelu".into();
        assert!(read(&gelu).unwrap_err().contains("vision_config.hidden_act is \"gelu\""));
    }
}
