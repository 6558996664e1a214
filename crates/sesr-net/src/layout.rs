//! Weight layouts: OIHW (PyTorch's and ONNX's, what [`crate::ConvWeights`] holds) and OHWI
//! (channels last: TFLite's, and what the integer kernels read).

/// OIHW weights in OHWI order.
pub fn ohwi<T: Copy>(oihw: &[T], out_channels: usize, in_channels: usize, k: usize) -> Vec<T> {
    let (o, i) = (out_channels, in_channels);
    let mut out = Vec::with_capacity(oihw.len());
    for oc in 0..o {
        for ky in 0..k {
            for kx in 0..k {
                for ic in 0..i {
                    out.push(oihw[((oc * i + ic) * k + ky) * k + kx]);
                }
            }
        }
    }
    out
}

/// OHWI weights in OIHW order: the inverse of [`ohwi`].
pub fn oihw<T: Copy>(ohwi: &[T], out_channels: usize, in_channels: usize, k: usize) -> Vec<T> {
    let (o, i) = (out_channels, in_channels);
    let mut out = Vec::with_capacity(ohwi.len());
    for oc in 0..o {
        for ic in 0..i {
            for ky in 0..k {
                for kx in 0..k {
                    out.push(ohwi[((oc * k + ky) * k + kx) * i + ic]);
                }
            }
        }
    }
    out
}

/// TensorFlow's `depth_to_space` on one NHWC image: channel `(i * block + j) * C' + c` of pixel
/// `(y, x)` goes to channel `c` of pixel `(y * block + i, x * block + j)`.
pub fn depth_to_space<T: Copy>(
    input: &[T],
    height: usize,
    width: usize,
    channels: usize,
    block: usize,
) -> Vec<T> {
    let out_c = channels / (block * block);
    let (out_h, out_w) = (height * block, width * block);
    let mut out = Vec::with_capacity(input.len());
    for oy in 0..out_h {
        for ox in 0..out_w {
            let (y, i) = (oy / block, oy % block);
            let (x, j) = (ox / block, ox % block);
            let base = (y * width + x) * channels + (i * block + j) * out_c;
            out.extend_from_slice(&input[base..base + out_c]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ohwi_and_oihw_are_inverse() {
        let w: Vec<u32> = (0..2 * 3 * 5 * 5).collect();
        assert_eq!(oihw(&ohwi(&w, 2, 3, 5), 2, 3, 5), w);
    }

    #[test]
    fn depth_to_space_follows_tensorflow() {
        // One pixel, 4 channels -> 2x2 pixels: channel (i * 2 + j) goes to pixel (i, j).
        assert_eq!(depth_to_space(&[0, 1, 2, 3], 1, 1, 4, 2), vec![0, 1, 2, 3]);
        // One pixel, 8 channels (C' = 2): pixel (i, j) gets channels (i*2+j)*2 + {0, 1}.
        let out = depth_to_space(&[0, 1, 2, 3, 4, 5, 6, 7], 1, 1, 8, 2);
        assert_eq!(out, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        // 1x2 pixels, 4 channels -> 2x4: rows interleave the pixels.
        let out = depth_to_space(&[0, 1, 2, 3, 10, 11, 12, 13], 1, 2, 4, 2);
        assert_eq!(out, vec![0, 1, 10, 11, 2, 3, 12, 13]);
    }
}
