namespace Eventprop.Core.Data;

/// <summary>A training set and a validation set drawn from the same data, with a description for logs.</summary>
/// <param name="Train">Samples to train on.</param>
/// <param name="Validation">Samples to validate on; disjoint from <paramref name="Train"/>.</param>
/// <param name="Description">What the split is, e.g. "speaker 3 held out".</param>
/// <param name="HeldOutSpeaker">The speaker whose trials form <paramref name="Validation"/> in a leave-one-speaker-out fold, else −1.</param>
public sealed record DatasetSplit(SpikeDataset Train, SpikeDataset Validation, string Description, int HeldOutSpeaker = -1);

/// <summary>
/// Ways to split data into training and validation sets: leave-one-speaker-out folds (the cross-validation of
/// Nowotny et al. for SHD), a separate validation file (SSC's <c>ssc_valid.h5</c>), and a seeded stratified split.
/// </summary>
public static class DatasetSplits
{
    /// <summary>
    /// One fold per speaker: the speaker's trials are the validation set, all other trials the training set.
    /// Folds are ordered by speaker id; within each set, samples keep their dataset order.
    /// </summary>
    /// <param name="data">Data whose samples carry speaker ids (SHD: <c>extra/speaker</c>).</param>
    /// <exception cref="ArgumentException">A sample has no speaker id (−1), or there are fewer than two speakers.</exception>
    public static IReadOnlyList<DatasetSplit> LeaveOneSpeakerOut(SpikeDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        for (int i = 0; i < data.Count; i++)
            if (data[i].Speaker < 0)
                throw new ArgumentException($"Dataset '{data.Name}': sample {i} has no speaker id; leave-one-speaker-out needs speaker ids (SHD/SSC 'extra/speaker').", nameof(data));
        int[] speakers = data.Select(s => s.Speaker).Distinct().Order().ToArray();
        if (speakers.Length < 2)
            throw new ArgumentException($"Dataset '{data.Name}' has {speakers.Length} speaker(s); leave-one-speaker-out needs at least two.", nameof(data));
        return speakers.Select(speaker =>
        {
            var validation = Enumerable.Range(0, data.Count).Where(i => data[i].Speaker == speaker);
            var train = Enumerable.Range(0, data.Count).Where(i => data[i].Speaker != speaker);
            return new DatasetSplit(
                data.Subset(train, $"{data.Name} without speaker {speaker}"),
                data.Subset(validation, $"{data.Name} speaker {speaker}"),
                $"speaker {speaker} held out", speaker);
        }).ToArray();
    }

    /// <summary>
    /// A seeded, stratified split: from each class, round(<paramref name="validationFraction"/> × class size) randomly
    /// chosen samples go to validation, the rest to training. Within each set, samples keep their dataset order.
    /// </summary>
    /// <param name="data">Labelled data.</param>
    /// <param name="validationFraction">Fraction of each class to hold out, in (0, 1).</param>
    /// <param name="seed">Seed of the random choice; the same seed gives the same split.</param>
    /// <exception cref="ArgumentException">A sample is unlabelled, or the fraction is outside (0, 1).</exception>
    public static DatasetSplit Stratified(SpikeDataset data, double validationFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must lie strictly between 0 and 1.");
        for (int i = 0; i < data.Count; i++)
            if (data[i].Label < 0)
                throw new ArgumentException($"Dataset '{data.Name}': sample {i} is unlabelled; a stratified split needs labels.", nameof(data));

        var random = new Random(seed);
        var isValidation = new bool[data.Count];
        for (int label = 0; label < data.ClassCount; label++)
        {
            int[] members = Enumerable.Range(0, data.Count).Where(i => data[i].Label == label).ToArray();
            random.Shuffle(members);
            int take = (int)Math.Round(validationFraction * members.Length, MidpointRounding.AwayFromZero);
            for (int k = 0; k < take; k++) isValidation[members[k]] = true;
        }
        var validation = Enumerable.Range(0, data.Count).Where(i => isValidation[i]);
        var train = Enumerable.Range(0, data.Count).Where(i => !isValidation[i]);
        return new DatasetSplit(
            data.Subset(train, $"{data.Name} train (stratified, seed {seed})"),
            data.Subset(validation, $"{data.Name} validation (stratified, seed {seed})"),
            $"stratified {validationFraction:0.###} validation, seed {seed}");
    }

    /// <summary>
    /// A split given by two files, e.g. SSC's <c>ssc_train.h5</c> and <c>ssc_valid.h5</c>; checks that both describe
    /// the same input channels and classes.
    /// </summary>
    /// <param name="train">The training data.</param>
    /// <param name="validation">The validation data.</param>
    /// <exception cref="ArgumentException">The channel counts or the class names differ.</exception>
    public static DatasetSplit FromSeparateSets(SpikeDataset train, SpikeDataset validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (train.ChannelCount != validation.ChannelCount)
            throw new ArgumentException($"'{train.Name}' has {train.ChannelCount} channels but '{validation.Name}' has {validation.ChannelCount}; they cannot form one split.");
        if (!train.ClassNames.SequenceEqual(validation.ClassNames))
            throw new ArgumentException($"'{train.Name}' and '{validation.Name}' name their classes differently ({train.ClassCount} vs {validation.ClassCount} classes); they cannot form one split.");
        return new DatasetSplit(train, validation, $"{train.Name} / {validation.Name}");
    }
}
