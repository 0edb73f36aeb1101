//! Adam as `torch.optim.Adam` (coupled L2 weight decay, bias correction), with its moment
//! buffers and step count in plain tensors so a stopped generator training resumes exactly.

use tch::{Device, Kind, Tensor};

pub(crate) struct Adam {
    params: Vec<(String, Tensor)>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    step: i64,
    pub lr: f64,
    beta1: f64,
    beta2: f64,
    weight_decay: f64,
}

const EPS: f64 = 1e-8;

impl Adam {
    pub fn new(
        params: Vec<(String, Tensor)>,
        lr: f64,
        betas: (f64, f64),
        weight_decay: f64,
    ) -> Adam {
        let first = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let second = params.iter().map(|(_, p)| p.zeros_like()).collect();
        Adam {
            params,
            first,
            second,
            step: 0,
            lr,
            beta1: betas.0,
            beta2: betas.1,
            weight_decay,
        }
    }

    pub(crate) fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    pub(crate) fn step(&mut self) {
        self.step += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let correction1 = 1.0 - b1.powi(self.step as i32);
        let correction2 = 1.0 - b2.powi(self.step as i32);
        tch::no_grad(|| {
            for (((_, p), m), v) in self
                .params
                .iter_mut()
                .zip(&mut self.first)
                .zip(&mut self.second)
            {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let g = if self.weight_decay > 0.0 {
                    g + &*p * self.weight_decay
                } else {
                    g
                };
                let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
                let _ = v.g_mul_scalar_(b2).g_add_(&(g.square() * (1.0 - b2)));
                let denom = (&*v / correction2).sqrt() + EPS;
                let _ = p.g_sub_(&(&*m / &denom * (self.lr / correction1)));
            }
        });
    }

    /// The state as named tensors (`<prefix>m/<param>`, `<prefix>v/<param>`, `<prefix>step`).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (((name, _), m), v) in self.params.iter().zip(&self.first).zip(&self.second) {
            out.push((format!("{prefix}m/{name}"), m.shallow_clone()));
            out.push((format!("{prefix}v/{name}"), v.shallow_clone()));
        }
        out.push((format!("{prefix}step"), Tensor::from(self.step)));
        out
    }

    /// Restores what `state` saved; missing entries are an error naming them.
    pub(crate) fn load_state(
        &mut self,
        prefix: &str,
        saved: &[(String, Tensor)],
        device: Device,
    ) -> Result<(), super::StateError> {
        let find = |name: &str| {
            saved
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.to_device(device))
                .ok_or_else(|| super::StateError::Missing {
                    what: "optimizer state",
                    name: name.to_string(),
                })
        };
        for (((name, _), m), v) in self
            .params
            .iter()
            .zip(&mut self.first)
            .zip(&mut self.second)
        {
            let saved_m = find(&format!("{prefix}m/{name}"))?;
            let saved_v = find(&format!("{prefix}v/{name}"))?;
            tch::no_grad(|| {
                m.copy_(&saved_m);
                v.copy_(&saved_v);
            });
        }
        self.step = i64::try_from(find(&format!("{prefix}step"))?.to_kind(Kind::Int64))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_adams_update_by_hand() {
        let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
        let mut adam = Adam::new(vec![("p".into(), p.shallow_clone())], 0.1, (0.5, 0.9), 0.01);
        // Two steps of loss = sum(p^2): g = 2p (+ wd * p).
        let mut expected = [1.0f64, -2.0];
        let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
        for step in 1..=2 {
            adam.zero_grad();
            (&p * &p).sum(Kind::Float).backward();
            adam.step();
            for i in 0..2 {
                let g = 2.0 * expected[i] + 0.01 * expected[i];
                m[i] = 0.5 * m[i] + 0.5 * g;
                v[i] = 0.9 * v[i] + 0.1 * g * g;
                let mh = m[i] / (1.0 - 0.5f64.powi(step));
                let vh = v[i] / (1.0 - 0.9f64.powi(step));
                expected[i] -= 0.1 * mh / (vh.sqrt() + 1e-8);
            }
        }
        let got: Vec<f32> = Vec::try_from(&p.detach()).unwrap();
        for i in 0..2 {
            assert!(
                (got[i] as f64 - expected[i]).abs() < 1e-5,
                "{got:?} vs {expected:?}"
            );
        }
    }
}
