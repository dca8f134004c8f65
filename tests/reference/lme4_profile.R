# lme4 1.1-31 (Debian r-cran-lme4) profile-likelihood intervals, confint(method = "profile"),
# of the REML and ML fits of sleepstudy and Penicillin; output: lme4_profile.json.
# Run from the repository root:  Rscript tests/reference/lme4_profile.R
suppressMessages({library(lme4); library(jsonlite)})
one <- function(name, formula, data, REML) {
  f <- lmer(formula, data = data, REML = REML)
  ci <- confint(f, method = "profile", oldNames = FALSE, level = 0.95)
  list(name = name, formula = deparse(formula), REML = REML,
       parameters = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]),
       logLik = as.numeric(logLik(f)))
}
fits <- list(
  one("sleepstudy_reml", Reaction ~ Days + (Days | Subject), sleepstudy, TRUE),
  one("sleepstudy_ml", Reaction ~ Days + (Days | Subject), sleepstudy, FALSE),
  one("penicillin_reml", diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, TRUE),
  one("penicillin_ml", diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, FALSE)
)
write_json(list(fits = fits), "tests/reference/lme4_profile.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
