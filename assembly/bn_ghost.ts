// Ghost Batch Normalization (Hoffer et al. 2017; Keras 2's virtual_batch_size): the batch is
// split into G sub-batches, each normalized with its own statistics by bn_forward_train_*.
// One running estimate is kept, updated once per batch from the sub-batches' moments
// averaged as Keras 2 does: mean = (1/G) sum mean_g, var = (1/G) sum var_g (the biased
// per-sub-batch variances; the caller applies the Bessel factor of a sub-batch).
// groupMean, groupVar: G rows of C. Writes mean, var_.
import { f32At, f32Put } from "./common";

export function bn_ghost_moments(mean: usize, var_: usize, groupMean: usize, groupVar: usize, G: i32, C: i32): void {
  const inv = 1.0 / <f64>G;
  for (let c = 0; c < C; c++) {
    let sm: f64 = 0, sv: f64 = 0;
    for (let g = 0; g < G; g++) {
      sm += <f64>f32At(groupMean, g * C + c);
      sv += <f64>f32At(groupVar, g * C + c);
    }
    f32Put(mean, c, <f32>(sm * inv));
    f32Put(var_, c, <f32>(sv * inv));
  }
}
