//! Transformer text encoders (BERT, RoBERTa, DistilBERT) as ONNX graphs:
//! `input_ids`, `attention_mask` (and `token_type_ids` for BERT), int64
//! `[batch_size, sequence_length]`, to `last_hidden_state`
//! `[batch_size, sequence_length, hidden]`, computed as Hugging Face
//! Transformers computes it (post-LayerNorm blocks, additive attention mask).

use crate::builder::{Builder, Dim, FLOAT, INT64, float_attr, int_attr, ints_attr, transpose};
use crate::config::{Activation, Family, TextConfig};
use crate::error::Result;
use crate::weights::Weights;

pub const INPUT_IDS: &str = "input_ids";
pub const ATTENTION_MASK: &str = "attention_mask";
pub const TOKEN_TYPE_IDS: &str = "token_type_ids";
pub const LAST_HIDDEN_STATE: &str = "last_hidden_state";
const BATCH: &str = "batch_size";
const SEQUENCE: &str = "sequence_length";

/// The graph inputs of `family`, in order.
pub fn input_names(family: Family) -> Vec<&'static str> {
    let mut names = vec![INPUT_IDS, ATTENTION_MASK];
    if family.has_token_types() {
        names.push(TOKEN_TYPE_IDS);
    }
    names
}

/// Weight names of one encoder block, relative to the model prefix.
struct BlockNames {
    query: String,
    key: String,
    value: String,
    attention_out: String,
    attention_norm: String,
    ffn_in: String,
    ffn_out: String,
    output_norm: String,
}

impl BlockNames {
    fn new(family: Family, layer: usize) -> BlockNames {
        match family {
            Family::Bert | Family::Roberta => {
                let p = format!("encoder.layer.{layer}");
                BlockNames {
                    query: format!("{p}.attention.self.query"),
                    key: format!("{p}.attention.self.key"),
                    value: format!("{p}.attention.self.value"),
                    attention_out: format!("{p}.attention.output.dense"),
                    attention_norm: format!("{p}.attention.output.LayerNorm"),
                    ffn_in: format!("{p}.intermediate.dense"),
                    ffn_out: format!("{p}.output.dense"),
                    output_norm: format!("{p}.output.LayerNorm"),
                }
            }
            Family::MpNet => {
                let p = format!("encoder.layer.{layer}");
                BlockNames {
                    query: format!("{p}.attention.attn.q"),
                    key: format!("{p}.attention.attn.k"),
                    value: format!("{p}.attention.attn.v"),
                    attention_out: format!("{p}.attention.attn.o"),
                    attention_norm: format!("{p}.attention.LayerNorm"),
                    ffn_in: format!("{p}.intermediate.dense"),
                    ffn_out: format!("{p}.output.dense"),
                    output_norm: format!("{p}.output.LayerNorm"),
                }
            }
            Family::DistilBert => {
                let p = format!("transformer.layer.{layer}");
                BlockNames {
                    query: format!("{p}.attention.q_lin"),
                    key: format!("{p}.attention.k_lin"),
                    value: format!("{p}.attention.v_lin"),
                    attention_out: format!("{p}.attention.out_lin"),
                    attention_norm: format!("{p}.sa_layer_norm"),
                    ffn_in: format!("{p}.ffn.lin1"),
                    ffn_out: format!("{p}.ffn.lin2"),
                    output_norm: format!("{p}.output_layer_norm"),
                }
            }
        }
    }
}

struct Encoder<'a, 'c> {
    b: Builder,
    config: &'a TextConfig,
    weights: &'a Weights<'c>,
}

/// Builds the encoder graph; every tensor of the model in the checkpoint must
/// be used (see [`Weights::check_all_used`]).
pub fn build(config: &TextConfig, weights: &Weights) -> Result<(zoo_onnx::proto::GraphProto, u64)> {
    let mut e = Encoder {
        b: Builder::new(&format!("zoo-convert {}", config.model_type)),
        config,
        weights,
    };
    let axes = [Dim::Named(BATCH), Dim::Named(SEQUENCE)];
    for name in input_names(config.family) {
        e.b.input(name, INT64, &axes);
    }
    let mut x = e.embeddings()?;
    let mut bias = e.mask_bias();
    if config.family == Family::MpNet {
        // One relative position bias for every layer, added to the mask's.
        let positions = e.relative_position_bias()?;
        bias =
            e.b.op("/attention_bias", "Add", &[&bias, &positions], vec![]);
    }
    for layer in 0..config.num_layers {
        x = e.block(layer, &x, &bias)?;
    }
    e.b.rename_output(&x, LAST_HIDDEN_STATE);
    let hidden = Dim::Fixed(config.hidden_size as i64);
    e.b.output(
        LAST_HIDDEN_STATE,
        FLOAT,
        &[Dim::Named(BATCH), Dim::Named(SEQUENCE), hidden],
    );
    weights.check_all_used()?;
    let parameters = weights.parameter_count();
    Ok((e.b.finish(), parameters))
}

impl Encoder<'_, '_> {
    fn embeddings(&mut self) -> Result<String> {
        let c = self.config;
        let h = c.hidden_size;
        let s = "/embeddings";
        let words = self
            .weights
            .get("embeddings.word_embeddings.weight", &[c.vocab_size, h])?;
        let words = self.b.weight(
            "embeddings.word_embeddings.weight",
            &[c.vocab_size, h],
            words,
        );
        let positions_table = "embeddings.position_embeddings.weight";
        let table = self.weights.get(positions_table, &[c.max_positions, h])?;
        let table = self.b.weight(positions_table, &[c.max_positions, h], table);

        let mut x = self
            .b
            .op(s, "Gather", &[&words, INPUT_IDS], vec![int_attr("axis", 0)]);
        let position_ids = match c.family {
            Family::Roberta | Family::MpNet => self.padding_aware_positions(),
            Family::Bert | Family::DistilBert => {
                // 0..sequence_length, broadcast over the batch.
                let len = self.b.op(
                    s,
                    "Shape",
                    &[INPUT_IDS],
                    vec![int_attr("start", 1), int_attr("end", 2)],
                );
                let len = self.b.op(s, "Squeeze", &[&len], vec![]);
                let zero = self.b.int("embeddings.zero", 0);
                let one = self.b.int("embeddings.one", 1);
                self.b.op(s, "Range", &[&zero, &len, &one], vec![])
            }
        };
        let positions = self.b.op(
            s,
            "Gather",
            &[&table, &position_ids],
            vec![int_attr("axis", 0)],
        );
        x = self.b.op(s, "Add", &[&x, &positions], vec![]);

        let name = "embeddings.token_type_embeddings.weight";
        match c.family {
            Family::Bert => {
                let types = self.weights.get(name, &[c.type_vocab_size, h])?;
                let types = self.b.weight(name, &[c.type_vocab_size, h], types);
                let gather = vec![int_attr("axis", 0)];
                let t = self.b.op(s, "Gather", &[&types, TOKEN_TYPE_IDS], gather);
                x = self.b.op(s, "Add", &[&x, &t], vec![]);
            }
            Family::Roberta => {
                // RoBERTa feeds token type 0 everywhere: add its row.
                let types = self.weights.get(name, &[c.type_vocab_size, h])?;
                let row = types[..h * 4].to_vec();
                let row = self
                    .b
                    .weight("embeddings.token_type_embeddings.row0", &[h], row);
                x = self.b.op(s, "Add", &[&x, &row], vec![]);
            }
            Family::DistilBert | Family::MpNet => {}
        }
        self.layer_norm(s, "embeddings.LayerNorm", &x)
    }

    /// RoBERTa's position ids, as `create_position_ids_from_input_ids` computes
    /// them: `cumsum(ids != pad) * (ids != pad) + pad`, so padding keeps the
    /// padding position and real tokens count from `pad + 1`.
    fn padding_aware_positions(&mut self) -> String {
        let s = "/embeddings/position_ids";
        let pad = self
            .b
            .int("embeddings.padding_idx", self.config.pad_token_id);
        let is_pad = self.b.op(s, "Equal", &[INPUT_IDS, &pad], vec![]);
        let not_pad = self.b.op(s, "Not", &[&is_pad], vec![]);
        let mask = self
            .b
            .op(s, "Cast", &[&not_pad], vec![int_attr("to", INT64 as i64)]);
        let axis = self.b.int("embeddings.sequence_axis", 1);
        let count = self.b.op(s, "CumSum", &[&mask, &axis], vec![]);
        let count = self.b.op(s, "Mul", &[&count, &mask], vec![]);
        self.b.op(s, "Add", &[&count, &pad], vec![])
    }

    /// MPNet's relative position bias, `[1, heads, sequence, sequence]`: the
    /// bias row of each key-minus-query offset's bucket. The buckets depend on
    /// the offset only, so the rows are looked up here for every offset the
    /// position embeddings allow, and the graph gathers by offset.
    fn relative_position_bias(&mut self) -> Result<String> {
        let c = self.config;
        let (buckets, heads) = (c.relative_buckets, c.num_heads);
        let name = "encoder.relative_attention_bias.weight";
        let weight = self.weights.get(name, &[buckets, heads])?;
        let span = c.max_positions as i64 - 1;
        let table: Vec<u8> = (-span..=span)
            .flat_map(|offset| {
                let row = relative_bucket(offset, buckets) * heads * 4;
                weight[row..row + heads * 4].to_vec()
            })
            .collect();
        let rows = (2 * span + 1) as usize;
        let table = self.b.weight(
            "encoder.relative_attention_bias.by_offset",
            &[rows, heads],
            table,
        );
        let s = "/relative_position_bias";
        let len = self.b.op(
            s,
            "Shape",
            &[INPUT_IDS],
            vec![int_attr("start", 1), int_attr("end", 2)],
        );
        let len = self.b.op(s, "Squeeze", &[&len], vec![]);
        let zero = self.b.int("relative.zero", 0);
        let one = self.b.int("relative.one", 1);
        let positions = self.b.op(s, "Range", &[&zero, &len, &one], vec![]);
        let axis0 = self.b.ints("relative.axis0", &[0]);
        let axis1 = self.b.ints("relative.axis1", &[1]);
        let keys = self.b.op(s, "Unsqueeze", &[&positions, &axis0], vec![]);
        let queries = self.b.op(s, "Unsqueeze", &[&positions, &axis1], vec![]);
        let offset = self.b.op(s, "Sub", &[&keys, &queries], vec![]);
        let first = self.b.int("relative.first_offset", span);
        let row = self.b.op(s, "Add", &[&offset, &first], vec![]);
        let bias = self
            .b
            .op(s, "Gather", &[&table, &row], vec![int_attr("axis", 0)]);
        let bias = self.b.op(
            s,
            "Transpose",
            &[&bias],
            vec![ints_attr("perm", &[2, 0, 1])],
        );
        Ok(self.b.op(s, "Unsqueeze", &[&bias, &axis0], vec![]))
    }

    /// `(1 - mask) * f32::MIN` as `[batch, 1, 1, sequence]`, added to the
    /// attention scores so masked keys get no weight (as Transformers does).
    fn mask_bias(&mut self) -> String {
        let s = "/attention_mask";
        let mask = self.b.op(
            s,
            "Cast",
            &[ATTENTION_MASK],
            vec![int_attr("to", FLOAT as i64)],
        );
        let one = self.b.float("mask.one", 1.0);
        let inverted = self.b.op(s, "Sub", &[&one, &mask], vec![]);
        let min = self.b.float("mask.min", f32::MIN);
        let bias = self.b.op(s, "Mul", &[&inverted, &min], vec![]);
        let axes = self.b.ints("mask.axes", &[1, 2]);
        self.b.op(s, "Unsqueeze", &[&bias, &axes], vec![])
    }

    fn block(&mut self, layer: usize, x: &str, bias: &str) -> Result<String> {
        let c = self.config;
        let (h, heads, dh) = (c.hidden_size, c.num_heads, c.head_dim());
        let n = BlockNames::new(c.family, layer);
        let s = format!("/encoder/layer.{layer}/attention");
        let q = self.linear(&s, &n.query, x, h, h)?;
        let k = self.linear(&s, &n.key, x, h, h)?;
        let v = self.linear(&s, &n.value, x, h, h)?;
        let split = self.b.ints(
            &format!("layer.{layer}.split_heads"),
            &[0, 0, heads as i64, dh as i64],
        );
        let q = self.b.op(&s, "Reshape", &[&q, &split], vec![]);
        let q = self.b.op(
            &s,
            "Transpose",
            &[&q],
            vec![ints_attr("perm", &[0, 2, 1, 3])],
        );
        let k = self.b.op(&s, "Reshape", &[&k, &split], vec![]);
        let k = self.b.op(
            &s,
            "Transpose",
            &[&k],
            vec![ints_attr("perm", &[0, 2, 3, 1])],
        );
        let v = self.b.op(&s, "Reshape", &[&v, &split], vec![]);
        let v = self.b.op(
            &s,
            "Transpose",
            &[&v],
            vec![ints_attr("perm", &[0, 2, 1, 3])],
        );
        let scores = self.b.op(&s, "MatMul", &[&q, &k], vec![]);
        let scale = self
            .b
            .float(&format!("layer.{layer}.scale"), 1.0 / (dh as f32).sqrt());
        let scores = self.b.op(&s, "Mul", &[&scores, &scale], vec![]);
        let scores = self.b.op(&s, "Add", &[&scores, bias], vec![]);
        let probs = self
            .b
            .op(&s, "Softmax", &[&scores], vec![int_attr("axis", -1)]);
        let context = self.b.op(&s, "MatMul", &[&probs, &v], vec![]);
        let context = self.b.op(
            &s,
            "Transpose",
            &[&context],
            vec![ints_attr("perm", &[0, 2, 1, 3])],
        );
        let merge = self
            .b
            .ints(&format!("layer.{layer}.merge_heads"), &[0, 0, h as i64]);
        let context = self.b.op(&s, "Reshape", &[&context, &merge], vec![]);
        let attended = self.linear(&s, &n.attention_out, &context, h, h)?;
        let attended = self.b.op(&s, "Add", &[&attended, x], vec![]);
        let x = self.layer_norm(&s, &n.attention_norm, &attended)?;

        let s = format!("/encoder/layer.{layer}/ffn");
        let inner = self.linear(&s, &n.ffn_in, &x, h, c.intermediate_size)?;
        let inner = self.activation(&s, &inner);
        let out = self.linear(&s, &n.ffn_out, &inner, c.intermediate_size, h)?;
        let out = self.b.op(&s, "Add", &[&out, &x], vec![]);
        self.layer_norm(&s, &n.output_norm, &out)
    }

    /// `x · Wᵀ + b` for a PyTorch Linear `scope` with weight `[outputs, inputs]`.
    fn linear(
        &mut self,
        s: &str,
        scope: &str,
        x: &str,
        inputs: usize,
        outputs: usize,
    ) -> Result<String> {
        let weight = self
            .weights
            .get(&format!("{scope}.weight"), &[outputs, inputs])?;
        let weight = transpose(&weight, outputs, inputs);
        let bias = self.weights.get(&format!("{scope}.bias"), &[outputs])?;
        let weight = self
            .b
            .weight(&format!("{scope}.weight"), &[inputs, outputs], weight);
        let bias = self.b.weight(&format!("{scope}.bias"), &[outputs], bias);
        let y = self.b.op(s, "MatMul", &[x, &weight], vec![]);
        Ok(self.b.op(s, "Add", &[&y, &bias], vec![]))
    }

    fn layer_norm(&mut self, s: &str, scope: &str, x: &str) -> Result<String> {
        let (weight, bias) = self.weights.layer_norm(scope, self.config.hidden_size)?;
        let h = self.config.hidden_size;
        let weight = self.b.weight(&format!("{scope}.weight"), &[h], weight);
        let bias = self.b.weight(&format!("{scope}.bias"), &[h], bias);
        let attrs = vec![
            int_attr("axis", -1),
            float_attr("epsilon", self.config.layer_norm_eps),
        ];
        Ok(self
            .b
            .op(s, "LayerNormalization", &[x, &weight, &bias], attrs))
    }

    fn activation(&mut self, s: &str, x: &str) -> String {
        match self.config.activation {
            Activation::Relu => self.b.op(s, "Relu", &[x], vec![]),
            Activation::Silu => {
                let sig = self.b.op(s, "Sigmoid", &[x], vec![]);
                self.b.op(s, "Mul", &[x, &sig], vec![])
            }
            Activation::Gelu => {
                // 0.5 · x · (1 + erf(x / √2))
                let inv_sqrt2 = self.b.float(
                    &format!("{s}/gelu.inv_sqrt2"),
                    std::f32::consts::FRAC_1_SQRT_2,
                );
                let one = self.b.float(&format!("{s}/gelu.one"), 1.0);
                let half = self.b.float(&format!("{s}/gelu.half"), 0.5);
                let scaled = self.b.op(s, "Mul", &[x, &inv_sqrt2], vec![]);
                let erf = self.b.op(s, "Erf", &[&scaled], vec![]);
                let erf = self.b.op(s, "Add", &[&erf, &one], vec![]);
                let y = self.b.op(s, "Mul", &[x, &erf], vec![]);
                self.b.op(s, "Mul", &[&y, &half], vec![])
            }
            Activation::GeluTanh => {
                // 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
                let c = self.b.float(
                    &format!("{s}/gelu.sqrt_2_over_pi"),
                    (2.0 / std::f32::consts::PI).sqrt(),
                );
                let k = self.b.float(&format!("{s}/gelu.coefficient"), 0.044715);
                let one = self.b.float(&format!("{s}/gelu.one"), 1.0);
                let half = self.b.float(&format!("{s}/gelu.half"), 0.5);
                let x2 = self.b.op(s, "Mul", &[x, x], vec![]);
                let x3 = self.b.op(s, "Mul", &[&x2, x], vec![]);
                let x3 = self.b.op(s, "Mul", &[&x3, &k], vec![]);
                let inner = self.b.op(s, "Add", &[x, &x3], vec![]);
                let inner = self.b.op(s, "Mul", &[&inner, &c], vec![]);
                let t = self.b.op(s, "Tanh", &[&inner], vec![]);
                let t = self.b.op(s, "Add", &[&t, &one], vec![]);
                let y = self.b.op(s, "Mul", &[x, &t], vec![]);
                self.b.op(s, "Mul", &[&y, &half], vec![])
            }
        }
    }
}

/// The bucket of a key-minus-query offset, as MPNet's
/// `relative_position_bucket` computes it (max distance 128): half the buckets
/// for each direction, exact below a quarter, logarithmic above. In f64; for
/// every offset up to 4096 it agrees with the f32 arithmetic of PyTorch.
fn relative_bucket(offset: i64, num_buckets: usize) -> usize {
    const MAX_DISTANCE: f64 = 128.0;
    let half = num_buckets / 2;
    let n = -offset;
    let direction = if n < 0 { half } else { 0 };
    let n = n.unsigned_abs() as usize;
    let max_exact = half / 2;
    let within = if n < max_exact {
        n
    } else {
        let ratio = (n as f64 / max_exact as f64).ln() / (MAX_DISTANCE / max_exact as f64).ln();
        let large = max_exact + (ratio * (half - max_exact) as f64) as usize;
        large.min(half - 1)
    };
    direction + within
}

#[cfg(test)]
mod tests {
    use super::relative_bucket;

    /// What Transformers' MPNetEncoder.relative_position_bucket gives (its
    /// code run in numpy float32; 32 buckets, max distance 128).
    #[test]
    fn relative_buckets_match_mpnet() {
        let expected = [
            (0, 0),
            (-1, 1),
            (1, 17),
            (-7, 7),
            (-8, 8),
            (-12, 9),
            (-16, 10),
            (-32, 12),
            (-64, 14),
            (-127, 15),
            (-500, 15),
            (8, 24),
            (500, 31),
        ];
        for (offset, bucket) in expected {
            assert_eq!(relative_bucket(offset, 32), bucket, "offset {offset}");
        }
    }
}
