//! A catalog model used as a backbone: which tensor holds its features, how its
//! inputs are prepared, the graph that computes just the features, and the ONNX
//! Runtime extractors that run it.

use std::path::{Path, PathBuf};

use zoo_onnx::FeatureTensor;
use zoo_onnx::proto::ModelProto;
use zoo_ort::image::ImageSpec;
use zoo_ort::pipeline::{self, Event, PipelineOptions};
use zoo_ort::{Engine, ImageInput, ModelSession, TextEmbedder};
use zoo_registry::Card;
use zoo_registry::card::{FileFormat, FileRole, OutputKind, Pooling, Preprocessing};

use crate::cache::CacheKey;
use crate::data::{Input, Modality};
use crate::error::{FinetuneError, Result};
use crate::extract::Extractor;
use crate::pooling;

/// How a text backbone's output becomes one vector per text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextFeatures {
    /// Card path of tokenizer.json.
    pub tokenizer: String,
    pub tokenizer_sha256: Option<String>,
    /// `None` when the output is already one vector per text.
    pub pooling: Option<Pooling>,
    pub normalize: bool,
}

#[derive(Debug, Clone)]
pub struct Backbone {
    pub card: Card,
    /// The pulled model's directory (files at their card paths).
    pub dir: PathBuf,
    /// Card path of the ONNX graph.
    pub model_file: String,
    pub model_sha256: String,
    /// What ONNX Runtime runs: the graph file's digest combined with those of
    /// its external-data files (`zoo_ort::graph_digest`), for caches.
    pub graph_digest: String,
    pub modality: Modality,
    /// Image backbones: the tensor cut at. Text: the model output pooled.
    pub feature: FeatureTensor,
    pub text: Option<TextFeatures>,
}

impl Backbone {
    /// Checks that `card` (pulled into `dir`) can serve as a backbone and finds its
    /// feature tensor: the card's `features` output, else the input of the final
    /// classifier layer as zoo-onnx finds it.
    pub fn resolve(card: &Card, dir: &Path) -> Result<Backbone> {
        let bad = |m: String| FinetuneError::Backbone {
            model: card.name.to_string(),
            message: m,
        };
        let io = card.io.as_ref().ok_or_else(|| {
            bad("its card has no io section (inputs, outputs, preprocessing)".into())
        })?;
        let model = card
            .files
            .iter()
            .find(|f| f.format == FileFormat::Onnx && f.role == FileRole::Model)
            .ok_or_else(|| bad("it has no ONNX model file".into()))?;
        let model_path = dir.join(&model.path);
        let model_sha256 = match &model.sha256 {
            Some(s) => s.to_string(),
            None => zoo_fetch::sha256_file(&model_path)?.0,
        };
        let external = card.external_data_sha256().ok_or_else(|| {
            bad("an ONNX external-data file of it has no sha256 in its card".into())
        })?;
        let graph_digest = zoo_ort::graph_digest(&model_sha256, &external);
        let (modality, feature, text) = match &io.preprocessing {
            Some(Preprocessing::Image(_)) => {
                let feature = match card.feature_output() {
                    Some(f) => FeatureTensor {
                        name: f.name.clone(),
                        dim: f.dim.map(|d| d as i64),
                    },
                    None => {
                        let graph = zoo_onnx::load(&model_path)?;
                        zoo_onnx::find_feature_tensor(&graph, None)?
                    }
                };
                (Modality::Image, feature, None)
            }
            Some(Preprocessing::Text(t)) => {
                let out = io
                    .outputs
                    .iter()
                    .find(|o| matches!(o.kind, OutputKind::TokenEmbeddings | OutputKind::Embedding))
                    .ok_or_else(|| {
                        bad("its card names no token-embeddings or embedding output".into())
                    })?;
                let pooling = (out.kind == OutputKind::TokenEmbeddings)
                    .then(|| t.pooling.unwrap_or(Pooling::Mean));
                let text = TextFeatures {
                    tokenizer: t.tokenizer.to_string(),
                    tokenizer_sha256: card
                        .file(&t.tokenizer)
                        .and_then(|f| f.sha256.as_ref().map(ToString::to_string)),
                    pooling,
                    normalize: t.normalize,
                };
                let feature = FeatureTensor {
                    name: out.name.clone(),
                    dim: out.dim.map(|d| d as i64),
                };
                (Modality::Text, feature, Some(text))
            }
            None => {
                return Err(bad(
                    "its card has no preprocessing, so zoo cannot prepare inputs for it".into(),
                ));
            }
        };
        Ok(Backbone {
            card: card.clone(),
            dir: dir.to_owned(),
            model_file: model.path.to_string(),
            model_sha256,
            graph_digest,
            modality,
            feature,
            text,
        })
    }

    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.model_file)
    }

    pub fn tokenizer_path(&self) -> Option<PathBuf> {
        self.text.as_ref().map(|t| self.dir.join(&t.tokenizer))
    }

    fn pooling_name(&self) -> Option<String> {
        let t = self.text.as_ref()?;
        let pool = match t.pooling {
            Some(Pooling::Mean) => "mean",
            Some(Pooling::Cls) => "cls",
            Some(Pooling::Max) => "max",
            None => "none",
        };
        Some(format!("{pool}{}", if t.normalize { "+l2" } else { "" }))
    }

    /// Everything that changes the features, for the cache.
    pub fn cache_key(&self) -> CacheKey {
        let pre = self
            .card
            .io
            .as_ref()
            .and_then(|io| io.preprocessing.as_ref());
        CacheKey::new(
            &self.graph_digest,
            &self.feature.name,
            self.pooling_name(),
            serde_json::to_value(pre).unwrap_or_default(),
            self.text.as_ref().and_then(|t| t.tokenizer_sha256.clone()),
        )
    }

    /// The graph from the inputs to the features `[batch, dim]`: the backbone cut
    /// at its feature tensor (images), or followed by pooling (text). The second
    /// value names its output.
    pub fn feature_graph(&self) -> Result<(ModelProto, FeatureTensor)> {
        let model = zoo_onnx::load(self.model_path())?;
        match &self.text {
            None => Ok((
                zoo_onnx::cut_at(&model, &self.feature)?,
                self.feature.clone(),
            )),
            Some(t) => pooling::pooled(&model, &self.feature, t.pooling, t.normalize),
        }
    }

    /// Opens the backbone in `engine` for extraction, `batch` items per run. An
    /// image backbone's cut graph is written once into `cache_dir`, beside the
    /// features it produces.
    pub fn extractor(
        &self,
        engine: &Engine,
        batch: usize,
        cache_dir: &Path,
    ) -> Result<Box<dyn Extractor>> {
        match &self.text {
            Some(_) => {
                let session = engine.open(&self.model_path(), Some(&self.graph_digest))?;
                let tokenizer = self
                    .tokenizer_path()
                    .expect("text backbones have a tokenizer");
                let mut embedder = TextEmbedder::new(session, &self.card, &tokenizer)?;
                embedder.set_batch(batch);
                Ok(Box::new(TextExtractor { embedder }))
            }
            None => {
                let key = self.cache_key().digest();
                let path = cache_dir.join("backbone.onnx");
                if !path.is_file() {
                    let (graph, _) = self.feature_graph()?;
                    zoo_onnx::save(&graph, &path)?;
                }
                let session = engine.open(&path, Some(&format!("{key}-cut")))?;
                let workers = engine.decode_workers(session.provider());
                ImageExtractor::new(session, &self.card, batch, workers)
                    .map(|e| Box::new(e) as Box<dyn Extractor>)
            }
        }
    }
}

struct ImageExtractor {
    session: ModelSession,
    spec: ImageSpec,
    input: String,
    batch: usize,
    /// Decoding threads (see `Engine::decode_workers`).
    workers: usize,
}

impl ImageExtractor {
    fn new(
        session: ModelSession,
        card: &Card,
        batch: usize,
        workers: usize,
    ) -> Result<ImageExtractor> {
        let ImageInput {
            spec,
            name: input,
            fixed_batch,
        } = ImageInput::resolve(&session, card).map_err(|message| FinetuneError::Backbone {
            model: card.name.to_string(),
            message,
        })?;
        // A model with a fixed batch axis takes exactly that many images per run.
        let batch = fixed_batch.unwrap_or(batch).max(1);
        Ok(ImageExtractor {
            session,
            spec,
            input,
            batch,
            workers,
        })
    }
}

impl Extractor for ImageExtractor {
    fn provider(&self) -> String {
        self.session.provider().to_string()
    }

    fn extract(&mut self, inputs: &[&Input], sink: &mut crate::extract::Sink) -> Result<()> {
        let paths: Vec<PathBuf> = inputs
            .iter()
            .map(|i| match i {
                Input::Image(p) => p.clone(),
                Input::Text(_) => PathBuf::new(),
            })
            .collect();
        let options = PipelineOptions {
            batch: self.batch,
            workers: self.workers,
        };
        let (session, spec, input) = (&mut self.session, &self.spec, self.input.as_str());
        pipeline::run(&paths, spec, options, |event| {
            match event {
                Event::Failed { index, error } => sink(index, Err(error)),
                Event::Batch { indices, data } => {
                    let shape = spec.shape(indices.len());
                    let outputs = session.run_f32(&[(input, &shape, data)])?;
                    let out = outputs.into_iter().next().ok_or_else(|| {
                        FinetuneError::Output("the feature graph returned no float output".into())
                    })?;
                    let (out_shape, values) = (out.shape, out.data);
                    let dim = out_shape.last().copied().unwrap_or(0);
                    if dim == 0 || values.len() != indices.len() * dim {
                        return Err(FinetuneError::Output(format!(
                            "the feature graph returned shape {out_shape:?} for {} images",
                            indices.len()
                        )));
                    }
                    for (&i, row) in indices.iter().zip(values.chunks_exact(dim)) {
                        sink(i, Ok(row));
                    }
                }
            }
            Ok(())
        })
    }
}

struct TextExtractor {
    embedder: TextEmbedder,
}

impl Extractor for TextExtractor {
    fn provider(&self) -> String {
        self.embedder.session().provider().to_string()
    }

    fn extract(&mut self, inputs: &[&Input], sink: &mut crate::extract::Sink) -> Result<()> {
        let texts: Vec<&str> = inputs
            .iter()
            .map(|i| match i {
                Input::Text(t) => t.as_str(),
                Input::Image(_) => "",
            })
            .collect();
        self.embedder.embed_each(&texts, |i, e| {
            sink(i, Ok(e));
            Ok(())
        })?;
        Ok(())
    }
}
