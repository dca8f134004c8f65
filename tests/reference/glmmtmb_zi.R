# glmmTMB 1.1.5 (Debian r-cran-glmmtmb) fits of zero-inflated Poisson and NB2 models: the
# simulated y_zip / y_zinb of tests/reference/families_data.csv (families_data.py) and
# Salamanders' NB2 with zi ~ mined; output: glmmtmb_zi.json. Run from the repository root:
#   Rscript tests/reference/glmmtmb_zi.R
suppressMessages({library(glmmTMB); library(jsonlite)})
d <- read.csv("tests/reference/families_data.csv", stringsAsFactors = TRUE)
sal <- read.csv("bayesmix/datasets/data/Salamanders.csv", stringsAsFactors = TRUE)
sal$mined <- factor(sal$mined, levels = c("yes", "no"))  # glmmTMB's Salamanders
coefs <- function(est, vc) list(names = names(est), estimate = unname(est),
                                std_error = unname(sqrt(diag(vc))))
one <- function(name, formula, zi, family, data) {
  t0 <- proc.time()[["elapsed"]]
  f <- glmmTMB(formula, ziformula = zi, data = data, family = family)
  vc <- VarCorr(f)$cond
  re <- lapply(names(vc), function(g) list(group = g, sd = unname(attr(vc[[g]], "stddev"))))
  list(name = name, formula = deparse(formula), zi = deparse(zi), family = family$family,
       link = family$link, logLik = as.numeric(logLik(f)),
       fixef = coefs(fixef(f)$cond, vcov(f)$cond),
       fixef_zi = coefs(fixef(f)$zi, vcov(f)$zi),
       random_effects = re, sigma_glmmTMB = sigma(f),
       converged = f$fit$convergence == 0, pdHess = f$sdr$pdHess,
       time_s = proc.time()[["elapsed"]] - t0)
}
fits <- list(
  one("zip", y_zip ~ x + (1 | g), ~x, poisson(), d),
  one("zinb", y_zinb ~ x + (1 | g), ~x, nbinom2(), d),
  one("Salamanders_zinb", count ~ mined + (1 | site), ~mined, nbinom2(), sal)
)
write_json(list(fits = fits), "tests/reference/glmmtmb_zi.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
